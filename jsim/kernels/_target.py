"""numba's CPU target set up without importing ``scipy.linalg`` (private; imported first by the package).

Before numba loads or compiles its first function in a process it imports every implementation
module it has (``numba.core.cpu.CPUContext.load_additional_registries``). One of them,
``numba.np.arraymath``, probes for BLAS at import by importing ``scipy.linalg.cython_blas``, which
imports ``scipy.linalg`` and with it ``numpy.f2py``, ``numpy.testing`` and ``unittest``: about
0.18 s of the 0.3 s that set-up takes, on every ``jsim run``. No kernel of jsim uses BLAS.

:func:`import_arraymath_without_scipy` imports ``numba.np.arraymath`` while ``scipy.linalg``
cannot be imported, then sets the probe's answer, ``numba.np.arraymath._HAVE_BLAS``, to what it
would have been: True, scipy being a dependency of jsim. numba reads that flag only when it
compiles ``np.convolve`` or ``np.correlate``, whose BLAS path calls numba's ``ensure_blas`` and
so imports ``scipy.linalg`` at that compilation; every other numba function that needs BLAS
(``np.dot``, ``np.linalg``) calls ``ensure_blas`` itself. numba then behaves as without this
module, numbers included, and ``scipy.linalg`` is imported only by a compilation that needs it.
"""

from __future__ import annotations

import sys


def import_arraymath_without_scipy() -> None:
    """Import ``numba.np.arraymath`` without its BLAS probe importing ``scipy.linalg`` (see the module)."""
    if "numba.np.arraymath" in sys.modules or "scipy.linalg" in sys.modules:
        return  # numba's set-up has begun, or scipy.linalg is paid for already
    sys.modules["scipy.linalg"] = None  # makes `import scipy.linalg.cython_blas` raise ImportError
    try:
        import numba.np.arraymath as arraymath
    finally:
        del sys.modules["scipy.linalg"]
    arraymath._HAVE_BLAS = True
