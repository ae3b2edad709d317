from licli.cli import main

main()
