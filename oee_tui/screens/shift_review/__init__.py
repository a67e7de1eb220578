"""The supervisor's shift review (F3): the screen, the loads it runs in threads, its tables' rows, the text
around them, its dialogs and its export."""
