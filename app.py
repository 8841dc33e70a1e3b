"""The instruct-loop console: run, steer and inspect the loop from a browser.

Start it with `iloop console [--port P]` (bound to 127.0.0.1, usage statistics and the file watcher off). This
file is thin: it builds the navigation; each page is one module in console/pages/. The pages read the store while
a run writes (SQLite WAL) and write only steering and run control.
"""
from __future__ import annotations

import streamlit as st

from console.common import who

st.set_page_config(page_title="instruct-loop console", layout="wide")
PAGES = [st.Page("console/pages/run.py", title="Run", default=True),
         st.Page("console/pages/steering.py", title="Steering"),
         st.Page("console/pages/rounds.py", title="Rounds"),
         st.Page("console/pages/data.py", title="Data"),
         st.Page("console/pages/taxonomy.py", title="Taxonomy")]
page = st.navigation(PAGES)
st.sidebar.title("instruct-loop console")
st.sidebar.text_input("your name (recorded with your changes)", key="who", placeholder=who())
page.run()
