// The file formats' public types (`Tensor`, `SafetensorsFile` and the
// errors reading files throws) are part of RNNKit's API; everything else in
// RNNKitFormats is `package`.
@_exported import RNNKitFormats
