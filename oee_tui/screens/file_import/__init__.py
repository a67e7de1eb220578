"""Importing planning data or a production log from a file (F4): the screen, its file picker, the preview
table with the bad cells marked, and the lines that say what was found."""
