from boxwise.cli import main

raise SystemExit(main())
