"""Streamlit dashboard for housing officers: who needs help today, and why."""
