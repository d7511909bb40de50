# Two dimensions, cases of different lengths, a comment and a blank line.
@problemName Tiny
@timeStamps false
@missing true
@univariate false
@dimensions 2
@equalLength false
@classLabel true up down flat

@data
1.0,2.0,3.5:0.5,0.25,0.125:up
-1e-3,2E+2:7,8,9,10:down
?,4,5:1,?,3:flat
0.0:0.0:up
