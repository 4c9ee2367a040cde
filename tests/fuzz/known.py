"""Defects the fuzzing suite finds and that are not fixed yet, as strict expected failures.

A new defect gets a mark here (`pytest.mark.xfail(strict=True, reason=...)`), its properties
and corpus cases name it, and the suite stays green; when the fix lands the properties pass,
pytest reports XPASS as a failure, and the mark is deleted here (one place for all). Every
defect issue 11 listed, and the three the fuzzer found besides (files of nesting alone, an
NDJSON first line that is no record, JSON from `normalize`), are fixed: there is none now.
"""

from __future__ import annotations
