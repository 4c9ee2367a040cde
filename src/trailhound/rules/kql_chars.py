"""Characters KQL's reader and writer must agree on.

Kibana trims unquoted literals, so the writer has to quote or refuse any text the reader would
trim; both therefore use this one definition.
"""

from __future__ import annotations

# What JavaScript's String.prototype.trim removes; Kibana trims unquoted literals with it.
JS_TRIM = (
    "\t\n\x0b\x0c\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
