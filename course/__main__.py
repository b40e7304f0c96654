"""``python -m course``: run the course's notebooks (see :mod:`course.runner`)."""

import sys

from course.runner import main

sys.exit(main())
