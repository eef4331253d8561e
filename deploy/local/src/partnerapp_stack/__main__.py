import sys

from partnerapp_stack.cli import main

sys.exit(main())
