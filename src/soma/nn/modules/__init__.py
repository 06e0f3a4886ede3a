"""The layers of ``soma.nn``; see each module file for one family."""
