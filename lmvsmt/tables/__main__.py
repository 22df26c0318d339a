"""`python -m lmvsmt.tables`: the paper tables from the result files present so far."""
from lmvsmt.tables import main

main()
