{
  "targets": [
    {
      "target_name": "hybridwire",
      "sources": [
        "native/core/crc32c.cc",
        "native/core/lz4.cc",
        "native/core/frame-codec.cc",
        "native/core/crypto/aead.cc",
        "native/core/crypto/datagram-seal.cc",
        "native/core/reliable/congestion.cc",
        "native/core/reliable/endpoint.cc",
        "native/core/reliable/endpoint-receive.cc",
        "native/core/reliable/endpoint-send.cc",
        "native/core/reliable/reassembly.cc",
        "native/core/reliable/receive-window.cc",
        "native/core/reliable/rtt-estimator.cc",
        "native/core/reliable/send-window.cc",
        "native/core/reliable/wire.cc",
        "native/binding/addon.cc",
        "native/binding/arguments.cc",
        "native/binding/crc32c-binding.cc",
        "native/binding/lz4-binding.cc",
        "native/binding/frame-binding.cc",
        "native/binding/layouts.cc",
        "native/binding/reliable-binding.cc",
        "native/binding/udp-address.cc",
        "native/binding/udp-linux.cc",
        "native/binding/udp-receive.cc",
        "native/binding/udp-socket-binding.cc",
        "native/binding/seal-binding.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_DISABLE_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED"
      ],
      "cflags!": ["-fexceptions"],
      "cflags_cc!": ["-fexceptions", "-std=gnu++17", "-std=gnu++20"],
      "cflags": ["-O3", "-Wall", "-Wextra"],
      "cflags_cc": ["-std=c++17", "-O3", "-Wall", "-Wextra", "-fno-exceptions"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "NO",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "MACOSX_DEPLOYMENT_TARGET": "11.0",
        "OTHER_CFLAGS": ["-O3", "-Wall", "-Wextra"]
      },
      "msvs_settings": {
        "VCCLCompilerTool": {
          "ExceptionHandling": 0,
          "AdditionalOptions": ["/std:c++17", "/O2"]
        }
      }
    }
  ]
}
