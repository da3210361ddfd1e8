"""Figures of analysis results and sonification (click tracks)."""
