import RNNKernels
