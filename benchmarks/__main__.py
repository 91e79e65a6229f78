"""Run every benchmark module's main() in turn: `python -m benchmarks`."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
from pathlib import Path


def main() -> int:
    names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])
                   if m.name.startswith("bench_"))
    failed = []
    for name in names:
        print(f"== benchmarks.{name}", flush=True)
        try:
            module = importlib.import_module(f"benchmarks.{name}")
            # main(argv) gets an empty argument list (not this command's); main() is fine too.
            takes_argv = bool(inspect.signature(module.main).parameters)
            rc = module.main([]) if takes_argv else module.main()
        except (Exception, SystemExit) as exc:  # one broken benchmark must not hide the others
            rc = exc.code if isinstance(exc, SystemExit) else exc
        if rc not in (None, 0):
            print(f"benchmarks.{name} failed: {rc!r}", file=sys.stderr)
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
