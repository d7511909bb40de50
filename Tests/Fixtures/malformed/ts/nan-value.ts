#A toy problem, broken in one way: see README.md.
@problemName Toy
@timeStamps false
@missing false
@univariate true
@equalLength true
@seriesLength 4
@classLabel true 1 2
@data
0.1,0.2,0.3,0.4:2
0.1,NaN,0.3,0.4:1
