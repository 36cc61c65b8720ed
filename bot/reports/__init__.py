"""What HR reads: status and log views built from the store, the tracker workbook, and what waits for HR."""
