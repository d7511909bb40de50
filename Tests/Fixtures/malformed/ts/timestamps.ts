@problemName Toy
@timeStamps true
@classLabel true 1 2
@data
(2007-01-01 00:00:00,1.0):1
