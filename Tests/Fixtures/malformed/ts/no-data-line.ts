#Headers, but no @data line.
@problemName Toy
@univariate true
@classLabel true 1 2
