"""Extensions created unbound here and bound in the factory, so modules can import them."""

from flask_babel import Babel
from flask_htmx import HTMX
from flask_wtf import CSRFProtect

babel = Babel()
csrf = CSRFProtect()
htmx = HTMX()
