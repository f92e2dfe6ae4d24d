import AltoModels
import AltoService
import AltoStore
import AltoAMQP

print("x")
