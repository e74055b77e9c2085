"""``--style lm-eval`` as lm-eval's own computation: stock task YAMLs, run by lm-eval, on the local files."""
