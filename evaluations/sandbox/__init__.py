"""OS-level sandbox for model-generated code, and verdicts it cannot touch.

* :mod:`~evaluations.sandbox.bwrap` builds the bubblewrap command line (namespaces,
  read-only binds, private ``/tmp`` and ``/dev/shm``, no network, no privilege);
* :mod:`~evaluations.sandbox.seccomp` compiles, with libseccomp, the filter that stops
  the sandboxed process from creating processes or namespaces;
* :mod:`~evaluations.sandbox.runner` starts one sandbox per check, feeds it the job and
  reads its output records under time and size limits;
* :mod:`~evaluations.sandbox.harness` is the code that runs *inside*: it executes the
  candidate on the inputs and writes its outputs, nothing else;
* :mod:`~evaluations.sandbox.codec` carries values across as plain data;
* :mod:`~evaluations.sandbox.judge` applies EvalPlus's comparison rules on the host;
* :mod:`~evaluations.sandbox.limits` and :mod:`~evaluations.sandbox.errors` hold the
  limits of a check and the errors of the machinery (never a solution's fault).
"""
