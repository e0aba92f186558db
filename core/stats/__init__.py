"""Statistics for the reports: intervals and tests from scipy / statsmodels, and what no library does (a batched
Bradley-Terry fit), tested against scikit-learn."""
