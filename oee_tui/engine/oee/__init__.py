"""The OEE maths: pure functions over facts and the shift calendar, with no I/O."""
