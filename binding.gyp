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
        "native/repo.cc",
        "native/repo_objects.cc",
        "native/repo_tree.cc",
        "native/repo_staging.cc",
        "native/layer_export.cc",
        "native/layer_export_js.cc",
        "native/layer_assign.cc",
        "native/tar/ostree_writer.cc",
        "native/repo_read.cc",
        "native/layer_import.cc",
        "native/layer_import_js.cc",
        "native/layer_blob.cc",
        "native/io/fd_io.cc",
        "native/io/prefetch.cc",
        "native/codec/media_type.cc",
        "native/codec/codec.cc",
        "native/codec/gzip.cc",
        "native/codec/zstd.cc",
        "native/tar/writer.cc",
        "native/tar/reader.cc",
        "native/tar_rewrite.cc",
        "native/codec/deflate_scan.cc",
        "native/seqpacket.cc",
        "native/sysroot.cc",
        "native/tar_filter.cc",
        "native/layer_derived.cc",
        "native/merge.cc",
        "native/sepolicy.cc",
        "native/util/tempdir.cc",
        "native/util/async.cc",
        "native/scheduler.cc",
        "native/scheduler_binding.cc"
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
