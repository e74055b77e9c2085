"""Page script run by st.navigation; the page itself is workbench.app.views.samples."""

from workbench.app.views import samples

samples.render()
