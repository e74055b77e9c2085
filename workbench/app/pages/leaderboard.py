"""Page script run by st.navigation; the page itself is workbench.app.views.leaderboard."""

from workbench.app.views import leaderboard

leaderboard.render()
