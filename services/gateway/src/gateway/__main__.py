from __future__ import annotations

from gateway.bootstrap import build_app
from gateway.config import Settings
from servicekit.serve import serve


def main() -> None:
    settings = Settings()
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
