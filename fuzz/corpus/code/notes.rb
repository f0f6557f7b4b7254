require 'json'

module Inventory
  VERSION = '1.0'
end

def restock(item, n)
  item.quantity += n
end
