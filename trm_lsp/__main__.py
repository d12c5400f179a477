from trm_lsp.cli import main

raise SystemExit(main())
