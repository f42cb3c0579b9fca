"""The Streamlit lab app: pages that read snapshots and send commands, nothing more.

`app.py` is the entry point (`gitops-lab app` runs it); `session.py` keeps one `LabSession`
per workspace in `st.cache_resource` (the Lab, and the scenario player); `widgets.py` draws
what every page shares (status badges, the resource tree, coloured diffs); `pages/` holds one
script per page. All logic the CLI or notebooks would also need lives below `lab.ui`.
"""
