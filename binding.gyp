{
  "targets": [
    {
      "target_name": "ostree_container",
      "sources": [
        "native/addon.cc",
        "native/util/errors.cc",
        "native/util/error_info.cc",
        "native/util/cancellable.cc",
        "native/util/variant.cc",
        "native/util/variant_untrusted.cc",
        "native/util/args.cc",
        "native/repo/repo.cc",
        "native/repo/objects.cc",
        "native/repo/tree.cc",
        "native/repo/staging.cc",
        "native/layer/export.cc",
        "native/layer/export_js.cc",
        "native/layer/assign.cc",
        "native/tar/ostree_writer.cc",
        "native/repo/read.cc",
        "native/layer/import.cc",
        "native/layer/import_js.cc",
        "native/layer/blob.cc",
        "native/io/fd_io.cc",
        "native/io/prefetch.cc",
        "native/codec/media_type.cc",
        "native/codec/codec.cc",
        "native/codec/gzip.cc",
        "native/codec/zstd.cc",
        "native/tar/writer.cc",
        "native/tar/reader.cc",
        "native/layer/rewrite.cc",
        "native/codec/deflate_scan.cc",
        "native/proxy/seqpacket.cc",
        "native/sysroot/sysroot.cc",
        "native/store/filter.cc",
        "native/layer/derived.cc",
        "native/store/merge.cc",
        "native/repo/sepolicy.cc",
        "native/util/tempdir.cc",
        "native/util/async.cc",
        "native/scheduler.cc",
        "native/scheduler_js.cc",
        "native/process_js.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED",
                  "NODE_ADDON_API_CPP_EXCEPTIONS_ALL"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": [
        "-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter",
        "<!@(pkg-config --cflags ostree-1 zlib libzstd libdeflate openssl)"
      ],
      "libraries": ["<!@(pkg-config --libs ostree-1 zlib libzstd libdeflate openssl)"]
    }
  ]
}
