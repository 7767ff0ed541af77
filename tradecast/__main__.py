from tradecast.cli import main

main()
