{
  "targets": [
    {
      "target_name": "jbc_mining",
      "sources": ["src/addon.c", "src/kernel.c"],
      "cflags": ["-O3", "-std=c11", "-Wall", "-Wextra"],
      "cflags!": ["-O0", "-O1", "-O2", "-Os"],
      "xcode_settings": {
        "GCC_OPTIMIZATION_LEVEL": "3"
      }
    }
  ]
}
