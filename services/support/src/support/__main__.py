from __future__ import annotations

from servicekit.serve import serve
from support.bootstrap import build_app
from support.config import Settings


def main() -> None:
    settings = Settings()
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
