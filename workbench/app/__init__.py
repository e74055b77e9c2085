"""The Streamlit app over runs, evaluations and diagnostics (entry point: ``app.py``).

Layout: :mod:`discover` finds data by file layout, :mod:`readers` parses files (no
Streamlit), :mod:`data` caches both for the pages, :mod:`widgets` holds shared UI
pieces, ``views/`` one module per page and ``pages/`` the thin scripts ``st.navigation``
runs. The app only reads: it never writes into the runs it shows.
"""
