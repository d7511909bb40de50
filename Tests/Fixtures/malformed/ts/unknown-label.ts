#A toy problem, broken in one way: see README.md.
@problemName Toy
@timeStamps false
@missing false
@univariate true
@equalLength true
@seriesLength 4
@classLabel true 1 2
@data
1,2,3,4:1
1.5,2,3,4:3
