@problemName Toy
@timeStamps false
@missing false
@univariate false
@dimensions 2
@equalLength true
@seriesLength 2
@classLabel true 1 2
@data
1,2:3,4:1
1,2:1
