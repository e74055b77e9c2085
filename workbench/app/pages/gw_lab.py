"""Page script run by st.navigation; the page itself is workbench.app.views.gw_lab."""

from workbench.app.views import gw_lab

gw_lab.render()
