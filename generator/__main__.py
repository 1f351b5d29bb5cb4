from llmplan.cli import main

raise SystemExit(main())
