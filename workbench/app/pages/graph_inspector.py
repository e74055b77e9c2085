"""Page script run by st.navigation; the page itself is workbench.app.views.graph_inspector."""

from workbench.app.views import graph_inspector

graph_inspector.render()
