{
  "targets": [
    {
      "target_name": "ostree_container",
      "sources": [
        "native/addon.cc",
        "native/scheduler.cc",
        "native/scheduler_js.cc",
        "native/util/args.cc",
        "native/util/async.cc",
        "native/util/cancellable.cc",
        "native/util/error_info.cc",
        "native/util/errors.cc",
        "native/util/journal.cc",
        "native/util/tempdir.cc",
        "native/util/variant.cc",
        "native/util/variant_untrusted.cc",
        "native/io/fd_io.cc",
        "native/io/fd_watch.cc",
        "native/io/prefetch.cc",
        "native/codec/codec.cc",
        "native/codec/deflate_scan.cc",
        "native/codec/gzip.cc",
        "native/codec/media_type.cc",
        "native/codec/zstd.cc",
        "native/tar/ostree_writer.cc",
        "native/tar/reader.cc",
        "native/tar/writer.cc",
        "native/repo/objects.cc",
        "native/repo/objects_js.cc",
        "native/repo/read.cc",
        "native/repo/repo_js.cc",
        "native/repo/sepolicy.cc",
        "native/repo/transaction.cc",
        "native/repo/tree.cc",
        "native/repo/tree_js.cc",
        "native/repo/scan.cc",
        "native/repo/scan_js.cc",
        "native/layer/assign.cc",
        "native/layer/blob.cc",
        "native/layer/blob_js.cc",
        "native/layer/derived.cc",
        "native/layer/derived_js.cc",
        "native/layer/export.cc",
        "native/layer/export_js.cc",
        "native/layer/import.cc",
        "native/layer/import_js.cc",
        "native/layer/rewrite.cc",
        "native/layer/rewrite_js.cc",
        "native/layer/spool.cc",
        "native/layer/spool_js.cc",
        "native/store/filter.cc",
        "native/store/merge.cc",
        "native/store/merge_js.cc",
        "native/sysroot/sysroot.cc",
        "native/sysroot/sysroot_js.cc",
        "native/proxy/seqpacket.cc",
        "native/proxy/seqpacket_js.cc",
        "native/process_js.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED",
                  "NODE_ADDON_API_CPP_EXCEPTIONS_ALL",
                  # A JS call into the addon while a worker terminates: an error that can no
                  # longer be thrown is dropped instead of ending the process in std::terminate.
                  "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
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
