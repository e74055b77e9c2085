"""Page script run by st.navigation; the page itself is workbench.app.views.runs."""

from workbench.app.views import runs

runs.render()
