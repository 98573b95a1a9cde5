"""Evaluation: metrics, real-file runs of lic models and classical anchors, BD-rate, plots."""
