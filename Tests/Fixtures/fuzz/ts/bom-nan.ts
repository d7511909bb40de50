@problemName bom
@classLabel true 0 1
@data
0.5,NaN,1.5:1
2,3:0
