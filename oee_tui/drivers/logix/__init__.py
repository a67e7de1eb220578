"""Allen-Bradley Logix over EtherNet/IP: the source kind (logix_source), tag names and the uploaded tag
list (tag_list), and the polling driver (logix_driver)."""
