"""Real-browser tests: the Streamlit app served for real, driven by headless Chromium."""
