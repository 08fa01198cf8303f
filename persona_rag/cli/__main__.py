from persona_rag.cli import main

raise SystemExit(main())
